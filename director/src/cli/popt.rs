//! The subset of libpopt 1.19's `poptGetNextOpt` that ipvsadm's option table exercises:
//! short option clusters (`-Ln`, `-tVIP`, `-t=VIP`), exact long names (`--opt`, `--opt=val`,
//! no abbreviations, no single-dash long options), optional arguments (`-p [timeout]`: the next
//! word is taken unless it starts with `-`), `--` ending options, and non-option words kept as
//! leftovers in order. Not emulated: aliases, exec, `!#:+` expansion, POSIXLY_CORRECT.

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Required,
    Optional,
}

/// One row of an option table: long name, short name, argument kind and the value returned.
#[derive(Debug, Clone, Copy)]
pub struct OptDef<T: Copy> {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: ArgKind,
    pub val: T,
}

/// popt's error codes that ipvsadm can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoptError {
    /// POPT_ERROR_NOARG
    NoArg,
    /// POPT_ERROR_BADOPT
    BadOpt,
    /// POPT_ERROR_UNWANTEDARG
    UnwantedArg,
}

impl PoptError {
    /// `poptStrerror` text.
    pub fn text(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::BadOpt => "unknown option",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// What `poptGetNextOpt` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<T> {
    Opt(T, Option<String>),
    End,
    Error(PoptError),
}

/// A popt context over one argv (argv[0] is the program name and is skipped).
pub struct Context<'a, T: Copy> {
    table: &'a [OptDef<T>],
    argv: &'a [String],
    next: usize,
    /// (argv index, byte offset) of the rest of a short option cluster.
    next_char: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<String>,
    leftover_pos: usize,
}

impl<'a, T: Copy> Context<'a, T> {
    pub fn new(table: &'a [OptDef<T>], argv: &'a [String]) -> Context<'a, T> {
        Context {
            table,
            argv,
            next: 1,
            next_char: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            leftover_pos: 0,
        }
    }

    /// `poptBadOption(con, POPT_BADOPTION_NOALIAS)`: the last argv word consumed.
    pub fn bad_option(&self) -> &str {
        self.next
            .checked_sub(1)
            .and_then(|i| self.argv.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// `poptGetArg`: the next leftover (non-option) word.
    pub fn get_arg(&mut self) -> Option<String> {
        let a = self.leftovers.get(self.leftover_pos).cloned();
        if a.is_some() {
            self.leftover_pos += 1;
        }
        a
    }

    fn find_long(&self, name: &str) -> Option<&'a OptDef<T>> {
        self.table.iter().find(|o| o.long == name)
    }

    fn find_short(&self, c: char) -> Option<&'a OptDef<T>> {
        self.table.iter().find(|o| o.short == Some(c))
    }

    /// `poptGetNextOpt`.
    pub fn next_opt(&mut self) -> Next<T> {
        loop {
            let mut long_arg: Option<String> = None;
            let opt: &OptDef<T>;
            if let Some((idx, pos)) = self.next_char.take() {
                let word = self.argv.get(idx).map(String::as_str).unwrap_or("");
                let rest = word.get(pos..).unwrap_or("");
                let mut chars = rest.chars();
                let Some(c) = chars.next() else {
                    return Next::Error(PoptError::BadOpt);
                };
                let Some(o) = self.find_short(c) else {
                    return Next::Error(PoptError::BadOpt);
                };
                opt = o;
                let after = pos + c.len_utf8();
                if after < word.len() {
                    self.next_char = Some((idx, after));
                }
            } else {
                if self.next >= self.argv.len() {
                    return Next::End;
                }
                let word = self.argv[self.next].as_str();
                self.next += 1;
                if self.rest_leftover || !word.starts_with('-') || word == "-" {
                    self.leftovers.push(word.to_string());
                    continue;
                }
                if word == "--" {
                    self.rest_leftover = true;
                    continue;
                }
                if let Some(body) = word.strip_prefix("--") {
                    let (name, arg) = match body.find('=') {
                        Some(p) => (&body[..p], Some(body[p + 1..].to_string())),
                        None => (body, None),
                    };
                    let Some(o) = self.find_long(name) else {
                        return Next::Error(PoptError::BadOpt);
                    };
                    opt = o;
                    long_arg = arg;
                } else {
                    self.next_char = Some((self.next - 1, 1));
                    continue;
                }
            }
            // The rest of a short cluster, if any.
            let cluster_rest: Option<String> = self.next_char.map(|(idx, pos)| {
                self.argv
                    .get(idx)
                    .and_then(|w| w.get(pos..))
                    .unwrap_or("")
                    .to_string()
            });
            if opt.kind == ArgKind::None {
                if long_arg.is_some() || cluster_rest.as_deref().is_some_and(|r| r.starts_with('='))
                {
                    return Next::Error(PoptError::UnwantedArg);
                }
                return Next::Opt(opt.val, None);
            }
            let arg = if let Some(a) = long_arg {
                Some(a)
            } else if let Some(rest) = cluster_rest {
                self.next_char = None;
                Some(rest.strip_prefix('=').unwrap_or(&rest).to_string())
            } else if self.next >= self.argv.len() {
                if opt.kind != ArgKind::Optional {
                    return Next::Error(PoptError::NoArg);
                }
                None
            } else {
                let w = &self.argv[self.next];
                if opt.kind == ArgKind::Optional && w.starts_with('-') {
                    None
                } else {
                    self.next += 1;
                    Some(w.clone())
                }
            };
            return Next::Opt(opt.val, arg);
        }
    }
}
