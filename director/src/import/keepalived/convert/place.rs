//! Which ldirectord file each virtual service goes to: one per group, by VIP.

use std::collections::BTreeMap;

use super::super::model::{LdFile, Pair, VAddr, Virtual};
use super::super::parse::Loc;
use super::ctx::Ctx;

/// Puts the virtual services into ldirectord files: one per group, by VIP (fwmark services
/// and addresses that are no VIP go with the first group), or one file without a pair.
pub(super) fn place(
    cx: &mut Ctx<'_>,
    pair: Option<&Pair>,
    virtuals: Vec<(Loc, Vec<Virtual>)>,
) -> Vec<LdFile> {
    let groups = pair.map(|p| p.groups.as_slice()).unwrap_or(&[]);
    let mut files: Vec<LdFile> = Vec::new();
    let mut by_group: BTreeMap<Option<usize>, usize> = BTreeMap::new();
    for (loc, vs) in virtuals {
        for v in vs {
            let group = if groups.is_empty() {
                None
            } else {
                let found = match v.addr {
                    VAddr::Ip(ip, _) => groups.iter().position(|g| g.addresses.contains(&ip)),
                    VAddr::Fwmark { .. } => None,
                };
                if found.is_none() {
                    let what = match v.addr {
                        VAddr::Ip(ip, _) => format!("{ip} is no virtual_ipaddress"),
                        VAddr::Fwmark { mark, .. } => format!("fwmark {mark} has no address"),
                    };
                    cx.note(
                        loc,
                        format!(
                            "{what}: its virtual service runs with the group of {}",
                            groups[0].name
                        ),
                    );
                }
                Some(found.unwrap_or(0))
            };
            let index = *by_group.entry(group).or_insert_with(|| {
                files.push(LdFile {
                    name: String::new(),
                    group,
                    checkinterval: v.checkinterval,
                    fork: false,
                    emailalert: Vec::new(),
                    emailalertfrom: None,
                    smtp: None,
                    virtuals: Vec::new(),
                });
                files.len() - 1
            });
            files[index].virtuals.push(v);
        }
    }
    let single = files.len() == 1;
    for f in &mut files {
        f.name = match (single, f.group) {
            (false, Some(g)) => format!("ldirectord-{}.cf", file_word(&groups[g].name)),
            _ => "ldirectord.cf".to_string(),
        };
        f.fork = f
            .virtuals
            .iter()
            .any(|v| v.checkinterval != f.checkinterval);
    }
    files
}

/// A name safe in a file name and a haresources token.
fn file_word(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
