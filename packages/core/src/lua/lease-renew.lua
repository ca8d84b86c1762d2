--[[
  Extends a lease only while its key is still this holder's.

  Input:
    KEYS[1] the key

    ARGV[1] the holder's token
    ARGV[2] the lease (ms)

  Output:
    1 - renewed
    0 - not this holder's (any more)
]]

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
