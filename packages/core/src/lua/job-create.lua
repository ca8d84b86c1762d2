--[[
  Creates a job unless one with its id exists. Every field is stored JSON-encoded in one Redis
  hash per job, so partial updates from the relay (bytes received) and the workers (state,
  video) never overwrite each other. With a batch, the job joins it in the same step.

  Input:
    KEYS[1] the job hash
    KEYS[2] the job sequence
    KEYS[3] the index of all jobs
    KEYS[4] the index of the job's state
    KEYS[5] the index of the job's kind
    KEYS[6] the index of the job's owner
    KEYS[7] the search index
    KEYS[8] the index of finished jobs
    KEYS[9] the batch hash (a placeholder, never written, for no batch)
    KEYS[10] the batch's jobs
    KEYS[11] the index of finished batches

    ARGV[1] the job schema (JSON)
    ARGV[2] id
    ARGV[3] owner ('' for none)
    ARGV[4] events channel
    ARGV[5] batch id ('' for none)
    ARGV[6] state
    ARGV[7] now (epoch ms)
    ARGV[8] '1' when the state is final
    ARGV[9] the size counted for the batch
    ARGV[10] n, the number of search words
    ARGV[11 .. 10 + n] the search words
    ARGV[11 + n ..] field/value pairs

  Output:
    the job's sequence once created
    0  - a job with this id exists
    -1 - the batch does not exist
]]
--- @include "includes/job-helpers"

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local schema = cjson.decode(ARGV[1])
local bid = ARGV[5]
if bid ~= '' and redis.call('EXISTS', KEYS[9]) == 0 then return -1 end
local seq = redis.call('INCR', KEYS[2])
local words = tonumber(ARGV[10])
redis.call('HSET', KEYS[1], 'seq', seq, unpack(ARGV, 11 + words))
redis.call('ZADD', KEYS[3], seq, ARGV[2])
redis.call('ZADD', KEYS[4], seq, ARGV[2])
redis.call('ZADD', KEYS[5], seq, ARGV[2])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[6], seq, ARGV[2]) end
for i = 11, 10 + words do redis.call('ZADD', KEYS[7], 0, member(schema, ARGV[i], seq, ARGV[2])) end
if bid ~= '' then
  redis.call('HSET', KEYS[1], 'batch_bytes', ARGV[9])
  redis.call('HINCRBY', KEYS[9], 'total', 1)
  redis.call('HINCRBY', KEYS[9], 'n:' .. ARGV[6], 1)
  redis.call('HINCRBY', KEYS[9], 'bytes', ARGV[9])
  redis.call('HSET', KEYS[9], 'last_at', ARGV[7])
  redis.call('ZADD', KEYS[10], seq, ARGV[2])
  settle(schema, KEYS[9], bid, ARGV[7], KEYS[11])
elseif ARGV[8] == '1' then
  redis.call('ZADD', KEYS[8], ARGV[7], ARGV[2])
end
redis.call('PUBLISH', ARGV[4], ARGV[2])
return seq
