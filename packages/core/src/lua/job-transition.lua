--[[
  Moves a job to another state when it is in one of the allowed ones, with field changes in the
  same step. Reaching a final state with a callback_url writes the job as it is now into the
  callback outbox in the same step, so no caller can forget the callback (JobLifecycle delivers
  and clears it). The batch's counts move in the same step, so they add up to its total at every
  moment.

  Input:
    KEYS[1] the job hash
    KEYS[2] the callback outbox (sorted set of entries, by when they were written)
    KEYS[3] the callback outbox's job snapshots (hash, by entry)
    KEYS[4] the index of state receiving (the state indexes in the order of schema.states)
    KEYS[5] the index of state queued
    KEYS[6] the index of state creating
    KEYS[7] the index of state uploading
    KEYS[8] the index of state processing
    KEYS[9] the index of state ready
    KEYS[10] the index of state failed
    KEYS[11] the index of state canceled
    KEYS[12] the index of finished jobs
    KEYS[13] the job's batch hash (a placeholder, never written, for no batch)
    KEYS[14] the index of finished batches

    ARGV[1] the job schema (JSON)
    ARGV[2] id
    ARGV[3] the allowed current states, comma-separated
    ARGV[4] the target state
    ARGV[5] events channel
    ARGV[6] the outbox entry ('' unless the target is final)
    ARGV[7] now (epoch ms; the outbox entry's score)
    ARGV[8] the job's batch id ('' for none)
    ARGV[9 ..] field/value pairs

  Output:
    nil              - no such job
    {0, job's pairs} - not in an allowed state: nothing changed
    {1, job's pairs} - moved
    error BATCH_MISMATCH - the job's batch is not ARGV[8]
]]
--- @include "includes/job-helpers"

local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return nil end
local current = cjson.decode(raw)
local allowed = false
for s in string.gmatch(ARGV[3], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end
local bid = batchOf(KEYS[1])
if bid ~= ARGV[8] then return redis.error_reply('BATCH_MISMATCH job ' .. ARGV[2]) end
local schema = cjson.decode(ARGV[1])
local index = positions(schema.states, 3)
local final = positions(schema.final, 0)
local to = ARGV[4]
if to ~= current then
  local seq = redis.call('HGET', KEYS[1], 'seq')
  redis.call('ZREM', KEYS[index[current]], ARGV[2])
  redis.call('ZADD', KEYS[index[to]], seq, ARGV[2])
end
redis.call('HSET', KEYS[1], 'state', cjson.encode(to), unpack(ARGV, 9))
local batch = KEYS[13]
if bid ~= '' then
  if to ~= current then
    redis.call('HINCRBY', batch, 'n:' .. current, -1)
    redis.call('HINCRBY', batch, 'n:' .. to, 1)
    local size = tonumber(cjson.decode(redis.call('HGET', KEYS[1], 'size') or 'null')) or 0
    if to == 'ready' then redis.call('HINCRBY', batch, 'bytes_ready', int(size)) end
    if current == 'ready' then redis.call('HINCRBY', batch, 'bytes_ready', int(0 - size)) end
  end
  redis.call('HSET', batch, 'last_at', ARGV[7])
  settle(schema, batch, bid, ARGV[7], KEYS[14])
elseif final[to] then
  redis.call('ZADD', KEYS[12], ARGV[7], ARGV[2])
else
  redis.call('ZREM', KEYS[12], ARGV[2])
end
if ARGV[6] ~= '' then
  local request = cjson.decode(redis.call('HGET', KEYS[1], 'request') or 'null')
  if type(request) == 'table' and type(request.callback_url) == 'string' and request.callback_url ~= '' then
    redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
    redis.call('HSET', KEYS[3], ARGV[6], cjson.encode(redis.call('HGETALL', KEYS[1])))
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[2])
return {1, redis.call('HGETALL', KEYS[1])}
