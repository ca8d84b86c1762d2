--[[
  Deletes a key only while it still holds the caller's value: never frees another holder's lock
  (leases, create locks, import claims).

  Input:
    KEYS[1] the key

    ARGV[1] the value it must hold

  Output:
    1 - deleted
    0 - it held something else (or nothing)
]]

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
