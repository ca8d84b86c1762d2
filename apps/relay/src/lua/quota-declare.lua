--[[
  A deferred length declared: held against the owner's bytes limit. The entry keeps its owner
  and time.

  Input:
    KEYS[1] the quota entries (hash: upload id -> entry)
    KEYS[2] the count of each owner's entries (hash)
    KEYS[3] the bytes of each owner's entries (hash)

    ARGV[1] upload id
    ARGV[2] owner (if it has no entry)
    ARGV[3] bytes (a decimal string)
    ARGV[4] the most open bytes (0: no limit)
    ARGV[5] now (epoch ms)

  Output:
    {1, count, bytes}  - held, with the owner's totals after it
    {-2, count, bytes} - the bytes limit refuses it (nothing changed)
]]
--- @include "includes/quota-entries"

local raw = redis.call('HGET', KEYS[1], ARGV[1])
local owner, before, at = ARGV[2], 0, ARGV[5]
if raw then
  local entry = cjson.decode(raw)
  owner, before, at = entry.o, tonumber(entry.b), entry.t
end
local count, bytes = held(owner)
local maxBytes = tonumber(ARGV[4])
local size = tonumber(ARGV[3])
if maxBytes > 0 and size > before and bytes - before + size > maxBytes then return {-2, count, bytes} end
drop(ARGV[1])
add(ARGV[1], owner, ARGV[3], at)
return {1, held(owner)}
