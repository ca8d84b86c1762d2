--[[
  The server's clock in epoch ms (every process of the fleet shares it).
]]

local function nowMs()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
