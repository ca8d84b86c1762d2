--[[
  The totals, recomputed from the entries (they move together, so this changes nothing unless
  Redis lost a key of the three).

  Input:
    KEYS[1] the quota entries (hash: upload id -> entry)
    KEYS[2] the count of each owner's entries (hash)
    KEYS[3] the bytes of each owner's entries (hash)

    No ARGV.

  Output:
    1
]]

local counts, bytes = {}, {}
local all = redis.call('HGETALL', KEYS[1])
for i = 2, #all, 2 do
  local entry = cjson.decode(all[i])
  counts[entry.o] = (counts[entry.o] or 0) + 1
  bytes[entry.o] = (bytes[entry.o] or 0) + tonumber(entry.b)
end
redis.call('DEL', KEYS[2], KEYS[3])
for owner, n in pairs(counts) do
  redis.call('HSET', KEYS[2], owner, n)
  if bytes[owner] > 0 then redis.call('HSET', KEYS[3], owner, string.format('%d', bytes[owner])) end
end
return 1
