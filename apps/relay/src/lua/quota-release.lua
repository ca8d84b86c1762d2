--[[
  Frees an upload's place (it finished or is gone).

  Input:
    KEYS[1] the quota entries (hash: upload id -> entry)
    KEYS[2] the count of each owner's entries (hash)
    KEYS[3] the bytes of each owner's entries (hash)

    ARGV[1] upload id

  Output:
    1 - it held an entry
    0 - it held none
]]
--- @include "includes/quota-entries"

if drop(ARGV[1]) then return 1 end
return 0
