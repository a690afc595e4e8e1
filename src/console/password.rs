//! Console passwords: argon2id with the crate's defaults (OWASP's
//! recommended parameters), as PHC strings that carry their own salt and
//! parameters, so stronger settings later still verify old hashes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The PHC string of `password` under a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2id with default parameters hashes any password").to_string()
}

/// Whether `password` is the one `phc` was made from. A damaged hash
/// verifies nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new random password: 16 letters and digits (about 90 bits), for a
/// password of the moment such as the demo's.
pub fn fresh() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// A hash to verify against when the person has none (or does not exist),
/// so a wrong name takes as long as a wrong password and does not say
/// which names exist.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("no such person's password"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let h = super::hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("correct horsf", &h));
        assert!(!super::verify("correct horse", "$argon2id$damaged"));
        assert_ne!(h, super::hash("correct horse"), "each hash has its own salt");
    }
}
