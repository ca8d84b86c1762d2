--[[
  The quota's entries, shared by its scripts. KEYS[1] (hash) holds, per open upload id, cjson
  `{o = owner, b = bytes (a string: cjson writes large numbers as 1e+15), t = epoch ms}`; KEYS[2]
  and KEYS[3] (hashes) hold per owner the count and the bytes of its entries, moved in the same
  step as the entries, so they always add up.
]]

local function add(id, owner, bytes, at)
  redis.call('HSET', KEYS[1], id, cjson.encode({ o = owner, b = bytes, t = tonumber(at) }))
  redis.call('HINCRBY', KEYS[2], owner, 1)
  if bytes ~= '0' then redis.call('HINCRBY', KEYS[3], owner, bytes) end
end

local function drop(id)
  local raw = redis.call('HGET', KEYS[1], id)
  if not raw then return false end
  local entry = cjson.decode(raw)
  redis.call('HDEL', KEYS[1], id)
  if entry.b ~= '0' then redis.call('HINCRBY', KEYS[3], entry.o, '-' .. entry.b) end
  if redis.call('HINCRBY', KEYS[2], entry.o, -1) <= 0 then
    redis.call('HDEL', KEYS[2], entry.o)
    redis.call('HDEL', KEYS[3], entry.o)
  end
  return entry
end

local function held(owner)
  return tonumber(redis.call('HGET', KEYS[2], owner) or '0'), tonumber(redis.call('HGET', KEYS[3], owner) or '0')
end
