--[[
  Removes a job with every index entry of it; its batch counts it no more, and its import claim
  goes when it still names the job.

  Input:
    KEYS[1] the job hash
    KEYS[2] the index of all jobs
    KEYS[3] the index of state receiving (the state indexes in the order of schema.states)
    KEYS[4] the index of state queued
    KEYS[5] the index of state creating
    KEYS[6] the index of state uploading
    KEYS[7] the index of state processing
    KEYS[8] the index of state ready
    KEYS[9] the index of state failed
    KEYS[10] the index of state canceled
    KEYS[11] the index of kind upload (the kind indexes in the order of schema.kinds)
    KEYS[12] the index of kind import
    KEYS[13] the index of the job's owner
    KEYS[14] the search index
    KEYS[15] the index of finished jobs
    KEYS[16] the job's batch hash (a placeholder, never written, for no batch)
    KEYS[17] the batch's jobs
    KEYS[18] the index of finished batches
    KEYS[19] the job's import claim (a placeholder, never written, for none)

    ARGV[1] the job schema (JSON)
    ARGV[2] id
    ARGV[3] events channel
    ARGV[4] the job's batch id ('' for none)
    ARGV[5] now (epoch ms)
    ARGV[6] '1' when the job has a claim

  Output:
    1 - removed
    0 - no such job
    error BATCH_MISMATCH - the job's batch is not ARGV[4]
]]
--- @include "includes/job-helpers"

local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return 0 end
local bid = batchOf(KEYS[1])
if bid ~= ARGV[4] then return redis.error_reply('BATCH_MISMATCH job ' .. ARGV[2]) end
local schema = cjson.decode(ARGV[1])
local states = positions(schema.states, 2)
local kinds = positions(schema.kinds, 2 + #schema.states)
local name = cjson.decode(raw)
local state = states[name]
local kind = kinds[cjson.decode(redis.call('HGET', KEYS[1], 'kind') or 'null')]
if state then redis.call('ZREM', KEYS[state], ARGV[2]) end
if kind then redis.call('ZREM', KEYS[kind], ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[13], ARGV[2])
local seq = redis.call('HGET', KEYS[1], 'seq')
local words = cjson.decode(redis.call('HGET', KEYS[1], 'search') or '[]')
if seq and type(words) == 'table' then
  for _, w in ipairs(words) do redis.call('ZREM', KEYS[14], member(schema, w, seq, ARGV[2])) end
end
redis.call('ZREM', KEYS[15], ARGV[2])
if bid ~= '' then
  local batch = KEYS[16]
  redis.call('HINCRBY', batch, 'total', -1)
  redis.call('HINCRBY', batch, 'n:' .. name, -1)
  redis.call('HINCRBY', batch, 'bytes', int(0 - (tonumber(redis.call('HGET', KEYS[1], 'batch_bytes')) or 0)))
  if name == 'ready' then
    local size = tonumber(cjson.decode(redis.call('HGET', KEYS[1], 'size') or 'null')) or 0
    redis.call('HINCRBY', batch, 'bytes_ready', int(0 - size))
  end
  redis.call('ZREM', KEYS[17], ARGV[2])
  settle(schema, batch, bid, ARGV[5], KEYS[18])
end
if ARGV[6] == '1' and redis.call('GET', KEYS[19]) == ARGV[2] then
  redis.call('DEL', KEYS[19])
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
