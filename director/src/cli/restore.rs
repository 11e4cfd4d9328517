//! ipvsadm's `config_stream_read`: how `-R` splits stdin into command lines. Each line is
//! `fscanf("%4096[^ \t\n\r]%1[ \t\n\r]")` tokens; tokens equal to `ipvsadm` are dropped; `#` is
//! not a comment; a last line that ends in blanks without a newline is dropped.

const MAX_TOKEN: usize = 4096;

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A reader of ipvsadm rules lines over the whole of stdin.
pub struct ConfigStream<'a> {
    input: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> ConfigStream<'a> {
    pub fn new(input: &'a [u8]) -> ConfigStream<'a> {
        ConfigStream {
            input,
            pos: 0,
            done: false,
        }
    }

    /// The next line as an argv (first element `argv0`), or None at the end of the stream.
    pub fn next_line(&mut self, argv0: &str) -> Option<Vec<String>> {
        if self.done {
            return None;
        }
        let mut a = vec![argv0.to_string()];
        let mut ntoken = 0;
        while let Some(&first) = self.input.get(self.pos) {
            if is_sep(first) {
                // fscanf matched nothing: skip blanks by hand up to the newline.
                loop {
                    let Some(&c) = self.input.get(self.pos) else {
                        self.done = true;
                        return None;
                    };
                    self.pos += 1;
                    match c {
                        b'\n' => return Some(a),
                        b'\t' | b'\r' | b' ' => {}
                        _ => {
                            self.pos -= 1;
                            break;
                        }
                    }
                }
                continue;
            }
            let start = self.pos;
            while self.pos < self.input.len()
                && self.pos - start < MAX_TOKEN
                && !is_sep(self.input[self.pos])
            {
                self.pos += 1;
            }
            let token = String::from_utf8_lossy(&self.input[start..self.pos]).into_owned();
            let token = match token.find('\0') {
                Some(p) => token[..p].to_string(),
                None => token,
            };
            let tail = match self.input.get(self.pos) {
                Some(&c) if is_sep(c) => {
                    self.pos += 1;
                    Some(c)
                }
                _ => None,
            };
            if token != "ipvsadm" {
                ntoken += 1;
                a.push(token);
            }
            if tail == Some(b'\n') {
                return Some(a);
            }
        }
        self.done = true;
        if ntoken == 0 {
            None
        } else {
            Some(a)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<Vec<String>> {
        let mut c = ConfigStream::new(s.as_bytes());
        let mut v = Vec::new();
        while let Some(l) = c.next_line("P") {
            v.push(l);
        }
        v
    }

    #[test]
    fn lines() {
        assert_eq!(
            all("-A -t 1.2.3.4:80\n\nipvsadm -C\n  # x\n-Z"),
            vec![
                vec!["P", "-A", "-t", "1.2.3.4:80"],
                vec!["P"],
                vec!["P", "-C"],
                vec!["P", "#", "x"],
                vec!["P", "-Z"],
            ]
        );
        assert_eq!(all("-C \t"), Vec::<Vec<String>>::new());
        assert_eq!(all("-C\r\n"), vec![vec!["P", "-C"]]);
    }
}
