--[[
  Changes some fields of a job without moving it, when it is in one of the allowed states.

  Input:
    KEYS[1] the job hash

    ARGV[1] id
    ARGV[2] events channel
    ARGV[3] the allowed current states, comma-separated ('' for any)
    ARGV[4 ..] field/value pairs

  Output:
    nil              - no such job
    {0, job's pairs} - not in an allowed state: nothing changed
    {1, job's pairs} - changed
]]

local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return nil end
if ARGV[3] ~= '' then
  local current = cjson.decode(raw)
  local allowed = false
  for s in string.gmatch(ARGV[3], '[^,]+') do
    if s == current then allowed = true end
  end
  if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end
end
if #ARGV >= 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return {1, redis.call('HGETALL', KEYS[1])}
