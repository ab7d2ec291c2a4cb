//! The two Lua scripts that make a read-then-write atomic in Redis.
//!
//! ```text
//! EVALSHA <swap_family> 1 cbjwt_family:f-91 3 '{"family":"f-91",…,"version":4,…}' 1900604800
//! → 1 (stored) or 0 (the stored version was not 3)
//! ```

use std::sync::LazyLock;

use redis::Script;

/// Compare-and-swap of a refresh family.
///
/// `KEYS[1]` the family key; `ARGV[1]` the expected version (`""`: the family must not
/// exist), `ARGV[2]` the new state (JSON), `ARGV[3]` its expiry (Unix seconds).
/// Returns 1 if stored, 0 if the stored version differed.
pub(super) static SWAP_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return 0 end
else
  if not current then return 0 end
  if cjson.decode(current)['version'] ~= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EXAT', ARGV[3])
return 1
"#,
    )
});

/// Moves a revocation epoch forward (never back) and keeps it at least until the given
/// time. Needs Redis 7.0 (`EXPIRETIME`).
///
/// `KEYS[1]` the epoch key; `ARGV[1]` revoked before, `ARGV[2]` keep until (Unix seconds).
pub(super) static REVOKE_BEFORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local before = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]))
if current then
  if current > before then before = current end
  local kept = redis.call('EXPIRETIME', KEYS[1])
  if kept > keep then keep = kept end
end
redis.call('SET', KEYS[1], string.format('%d', before), 'EXAT', string.format('%d', keep))
return 1
"#,
    )
});
