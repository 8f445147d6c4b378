//! Bearer tokens: read from a file, kept only as SHA-256 hashes, compared
//! in constant time.

use sha2::{Digest, Sha256};

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token file line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the token file holds no token; the service refuses to run without one")]
    Empty,
}

/// Tokens shorter than this are refused: guessable.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The accepted tokens: a name (the run's operator when none is given)
/// and the SHA-256 of the token.
#[derive(Debug, Clone)]
pub struct Tokens(Vec<(String, [u8; 32])>);

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Equal bytes, in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// Parses a token file: one token per line, `TOKEN` or `NAME TOKEN`,
    /// where TOKEN may be `sha256:<64 hex>` (the hash of the token, so the
    /// file need not hold the secret). `#` starts a comment line. A token
    /// without a name is named `token-LINE`.
    ///
    /// ```
    /// use cellvia::service::auth::Tokens;
    /// let tokens = Tokens::parse("lims 0123456789abcdef0123\n")?;
    /// assert_eq!(tokens.check("0123456789abcdef0123"), Some("lims"));
    /// assert_eq!(tokens.check("0123456789abcdef0124"), None);
    /// # Ok::<(), cellvia::service::auth::TokenError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: &str| TokenError::Line {
                line: line_no,
                message: message.into(),
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let (name, token) = match words[..] {
                [token] => (format!("token-{line_no}"), token),
                [name, token] => (name.to_string(), token),
                _ => return Err(err("expected TOKEN or NAME TOKEN")),
            };
            let hash = match token.strip_prefix("sha256:") {
                Some(hex) => parse_hex32(hex).ok_or_else(|| err("sha256: needs 64 hex digits"))?,
                None if token.chars().count() < MIN_TOKEN_CHARS => {
                    return Err(err(&format!(
                        "a token needs at least {MIN_TOKEN_CHARS} characters"
                    )))
                }
                None => digest(token),
            };
            tokens.push((name, hash));
        }
        if tokens.is_empty() {
            return Err(TokenError::Empty);
        }
        Ok(Self(tokens))
    }

    /// The name of the token presented, if it is one of ours. Every token
    /// is compared, whatever matched, so timing tells nothing.
    pub fn check(&self, presented: &str) -> Option<&str> {
        let hash = digest(presented);
        let mut found = None;
        for (name, known) in &self.0 {
            if constant_time_eq(&hash, known) && found.is_none() {
                found = Some(name.as_str());
            }
        }
        found
    }
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_and_plain_tokens_both_check_and_short_ones_are_refused() {
        let hash = crate::sha256_hex(b"a-long-enough-secret");
        let tokens =
            Tokens::parse(&format!("# QC\nqc sha256:{hash}\nplain-token-0123456789\n")).unwrap();
        assert_eq!(tokens.check("a-long-enough-secret"), Some("qc"));
        assert_eq!(tokens.check("plain-token-0123456789"), Some("token-3"));
        assert_eq!(tokens.check(""), None);
        assert!(matches!(
            Tokens::parse("short"),
            Err(TokenError::Line { line: 1, .. })
        ));
        assert!(matches!(Tokens::parse("# none\n"), Err(TokenError::Empty)));
        assert!(Tokens::parse("x sha256:zz").is_err());
    }
}
