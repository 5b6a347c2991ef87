//! Settings the HTTP remotes read alike: `user:pass@` in a URL, and rclone's `headers` option
//! (a CSV list of name, value pairs sent with every request).

/// rclone's `headers` option of `backend`: name, value pairs, each name a valid header name and
/// no value holding a line break (which would split the request).
///
/// # Errors
/// A message naming the option and what is wrong with it.
pub fn header_list(backend: &str, text: &str) -> Result<Vec<(String, String)>, String> {
    let list = split_csv(backend, text)?;
    if list.len() % 2 != 0 {
        return Err(format!("{backend} option headers: odd number of headers supplied"));
    }
    let headers: Vec<(String, String)> = list.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    for (name, value) in &headers {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(format!("{backend} option headers: {name:?} is not a header name"));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!("{backend} option headers: the value of {name} has a line break"));
        }
    }
    Ok(headers)
}

/// `user:pass@` in a URL, percent-decoded.
///
/// # Errors
/// A bad %-escape.
pub fn user_info(backend: &str, url: &str) -> Result<Option<(String, String)>, String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let Some((info, _)) = authority.rsplit_once('@') else { return Ok(None) };
    let (user, pass) = info.split_once(':').unwrap_or((info, ""));
    let decode = |s: &str| {
        super::url::decode_path(s).ok_or_else(|| format!("{backend} option url: bad %-escape in the user or password"))
    };
    Ok(Some((decode(user)?, decode(pass)?)))
}

/// rclone's `CommaSepList`: comma-separated fields, each optionally in double quotes (a
/// doubled quote inside is one quote), as Go's `encoding/csv` reads one record.
fn split_csv(backend: &str, text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("{backend} option headers: a quoted field is not closed")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err(format!("{backend} option headers: text after a closing quote"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err(format!("{backend} option headers: a quote inside an unquoted field"));
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}
