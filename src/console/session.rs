//! Console sessions and the login throttle, both in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// At most this many sessions at once; the oldest idle ones go first. A
/// flood of anonymous visits cannot grow memory without bound.
const MAX_SESSIONS: usize = 10_000;

/// A logged-in person and the pool that acts as her.
#[derive(Clone)]
pub struct Person {
    pub name: String,
    pub db: PgPool,
}

/// One browser's session: anonymous until a login succeeds.
#[derive(Clone)]
pub struct Session {
    pub person: Option<Person>,
    pub csrf: String,
    last_seen: Instant,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
}

/// 256 random bits as 64 hexadecimal digits, from the operating system.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality that takes as long whichever byte differs.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions { map: Mutex::new(HashMap::new()), idle }
    }

    /// The live session `token` names, seen now; an idle one ends here.
    pub fn touch(&self, token: &str) -> Option<Session> {
        let mut map = self.map.lock().expect("sessions lock");
        let now = Instant::now();
        match map.get_mut(token) {
            Some(s) if now.duration_since(s.last_seen) <= self.idle => {
                s.last_seen = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }

    /// A new anonymous session and its token.
    pub fn start(&self) -> (String, Session) {
        self.insert(None)
    }

    /// Ends session `old` and starts one for `person` under a new token (a
    /// token seen before login never carries a login).
    pub fn log_in(&self, old: &str, person: Person) -> (String, Session) {
        self.end(old);
        self.insert(Some(person))
    }

    pub fn end(&self, token: &str) {
        self.map.lock().expect("sessions lock").remove(token);
    }

    fn insert(&self, person: Option<Person>) -> (String, Session) {
        let session = Session { person, csrf: token(), last_seen: Instant::now() };
        let token = token();
        let mut map = self.map.lock().expect("sessions lock");
        if map.len() >= MAX_SESSIONS {
            let idle = self.idle;
            map.retain(|_, s| s.last_seen.elapsed() <= idle);
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map.iter().filter(|(_, s)| s.person.is_none()).min_by_key(|(_, s)| s.last_seen).map(|(t, _)| t.clone()) {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(token.clone(), session.clone());
        (token, session)
    }
}

/// Failed logins per key (a name, an address) within a window.
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    max: u32,
    window: Duration,
}

impl Throttle {
    pub fn new(max: u32, window: Duration) -> Throttle {
        Throttle { failures: Mutex::new(HashMap::new()), max, window }
    }

    /// Whether `key` has used up its failures in the current window.
    pub fn blocked(&self, key: &str) -> bool {
        let map = self.failures.lock().expect("throttle lock");
        map.get(key).is_some_and(|(n, since)| *n >= self.max && since.elapsed() < self.window)
    }

    pub fn failed(&self, key: &str) {
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() >= MAX_SESSIONS {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(key.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("throttle lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
    }

    #[test]
    fn an_idle_session_ends() {
        let s = Sessions::new(Duration::from_millis(50));
        let (t, _) = s.start();
        assert!(s.touch(&t).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(s.touch(&t).is_none(), "idle past the timeout");
        assert!(s.touch(&t).is_none(), "and gone for good");
    }

    #[test]
    fn the_throttle_pauses_a_key_after_its_failures() {
        let t = Throttle::new(2, Duration::from_secs(60));
        t.failed("ann");
        assert!(!t.blocked("ann"));
        t.failed("ann");
        assert!(t.blocked("ann"));
        assert!(!t.blocked("bob"));
        t.succeeded("ann");
        assert!(!t.blocked("ann"));
    }
}
