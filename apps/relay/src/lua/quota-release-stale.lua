--[[
  Releases an entry with no unfinished upload on disk behind it, only if it is still the entry
  read (not one a new reservation or a declaration wrote meanwhile).

  Input:
    KEYS[1] the quota entries (hash: upload id -> entry)
    KEYS[2] the count of each owner's entries (hash)
    KEYS[3] the bytes of each owner's entries (hash)

    ARGV[1] upload id
    ARGV[2] the entry's time as read

  Output:
    1 - released
    0 - gone, or another entry now
]]
--- @include "includes/quota-entries"

local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or tostring(cjson.decode(raw).t) ~= ARGV[2] then return 0 end
drop(ARGV[1])
return 1
