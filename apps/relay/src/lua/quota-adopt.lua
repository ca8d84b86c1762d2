--[[
  An unfinished upload found on disk: held whatever the limits.

  Input:
    KEYS[1] the quota entries (hash: upload id -> entry)
    KEYS[2] the count of each owner's entries (hash)
    KEYS[3] the bytes of each owner's entries (hash)

    ARGV[1] upload id
    ARGV[2] owner
    ARGV[3] bytes (a decimal string)
    ARGV[4] now (epoch ms)

  Output:
    1 - the entry was missing or different (it is now as on disk)
    0 - the entry was as on disk
]]
--- @include "includes/quota-entries"

local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local entry = cjson.decode(raw)
  if entry.o == ARGV[2] and entry.b == ARGV[3] then return 0 end
  drop(ARGV[1])
end
add(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
