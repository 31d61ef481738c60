//! Splitting one `.gate` line into tokens: words, quoted strings, comments.

/// One token of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A bare word: mnemonic, label, number, hex, state name.
    Word(String),
    /// A quoted string with its escapes resolved, as UTF-8 bytes.
    Str(Vec<u8>),
}

/// Tokens of `line` up to a `;` or `#` outside a string.
pub(crate) fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' || c == '#' {
            break;
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('r') => s.push('\r'),
                        Some(other) => return Err(format!("unknown escape `\\{other}`")),
                        None => return Err("unterminated string".into()),
                    },
                    Some(other) => s.push(other),
                }
            }
            tokens.push(Token::Str(s.into_bytes()));
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == ';' || c == '#' || c == '"' {
                    break;
                }
                w.push(c);
                chars.next();
            }
            tokens.push(Token::Word(w));
        }
    }
    Ok(tokens)
}

/// `0x…` hex (odd digit counts get a leading zero); `None` if not hex.
pub(crate) fn parse_hex(word: &str) -> Option<Vec<u8>> {
    let digits = word
        .strip_prefix("0x")
        .or_else(|| word.strip_prefix("0X"))?;
    let padded;
    let digits = if digits.len() % 2 == 1 {
        padded = format!("0{digits}");
        padded.as_str()
    } else {
        digits
    };
    let raw = digits.as_bytes();
    raw.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_comments_and_words() {
        let t = tokenize(r#"  PUSHDATA "a;b # \"q\" \\ \n" ; comment"#).unwrap();
        assert_eq!(
            t,
            vec![
                Token::Word("PUSHDATA".into()),
                Token::Str(b"a;b # \"q\" \\ \n".to_vec())
            ]
        );
        assert_eq!(tokenize("# all comment").unwrap(), vec![]);
        assert!(tokenize(r#"PUSHDATA "open"#).is_err());
        assert!(tokenize(r#"PUSHDATA "\q""#).is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex("0x"), Some(vec![]));
        assert_eq!(parse_hex("0xabc"), Some(vec![0x0a, 0xbc]));
        assert_eq!(parse_hex("0xzz"), None);
        assert_eq!(parse_hex("12"), None);
    }
}
