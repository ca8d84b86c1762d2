--[[
  Creates a batch unless one with its id exists. An empty batch is "finished" from the start, so
  that one nobody ever fills is swept after JOB_RETENTION too.

  Input:
    KEYS[1] the batch hash
    KEYS[2] the batch sequence
    KEYS[3] the index of all batches
    KEYS[4] the index of the owner's batches
    KEYS[5] the index of finished batches

    ARGV[1] id
    ARGV[2] name
    ARGV[3] owner ('' for none)
    ARGV[4] now (epoch ms)

  Output:
    the batch's sequence once created
    0 - a batch with this id exists
]]

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'owner', ARGV[3], 'created_at', ARGV[4],
  'last_at', ARGV[4], 'total', 0, 'bytes', 0, 'bytes_ready', 0, 'seq', seq)
redis.call('ZADD', KEYS[3], seq, ARGV[1])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[4], seq, ARGV[1]) end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
return seq
