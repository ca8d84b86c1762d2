--[[
  Takes a create lock for a job when it is free, or renews it when that job holds it.

  Input:
    KEYS[1] the lock

    ARGV[1] job id
    ARGV[2] TTL (ms)

  Output:
    1 - the job holds the lock
    0 - another job holds it
]]

local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
