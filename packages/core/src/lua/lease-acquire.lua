--[[
  Takes a lease's key if it is free.

  Input:
    KEYS[1] the key

    ARGV[1] the holder's token
    ARGV[2] the lease (ms)

  Output:
    {1, token}          - taken
    {0, holder's token} - someone holds it ('' when it ran out meanwhile)
]]

if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ARGV[1]} end
return {0, redis.call('GET', KEYS[1]) or ''}
