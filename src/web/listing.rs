//! Which groups and rules one `/api/v1/rules` answer holds: the filters applied group by
//! group, then one of the two paginations, Prometheus 3's (`group_limit` +
//! `group_next_token`) or vmalert's (`group_limit` + `page_num`, with totals).

use std::sync::Arc;

use super::filter::{Paging, ParamError, RulesFilter, bad, group_token};
use super::json::{Ctx, GroupJson};
use crate::status::{GroupStatus, RuleStatus};

/// vmalert's page counters, printed next to `data` when `group_limit` is given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    /// `page_num`, when asked for (vmalert omits it otherwise).
    pub page: Option<usize>,
    pub total_pages: usize,
    /// Groups and rules that pass the filters, on all pages.
    pub total_groups: usize,
    pub total_rules: usize,
}

/// One answer's groups and what continues it.
pub struct Listing<'a> {
    pub groups: Vec<GroupJson<'a>>,
    /// Prometheus 3: the token of the first group of the next page.
    pub next_token: Option<String>,
    /// vmalert: page counters.
    pub pages: Option<PageInfo>,
}

/// The rules of `g` that pass `f`; `None` when none does (the group is then left out,
/// as Prometheus does).
fn selected<'a>(g: &'a GroupStatus, f: &RulesFilter) -> Option<Vec<&'a RuleStatus>> {
    if !f.groups.matches(g) {
        return None;
    }
    let searched = f.group_searched(g);
    let rules: Vec<&RuleStatus> = g
        .rules
        .iter()
        .map(|r| &**r)
        .filter(|r| f.matches(r, searched))
        .collect();
    (!rules.is_empty()).then_some(rules)
}

/// The groups of one answer, in the order of `groups`.
pub fn list<'a>(
    groups: &'a [Arc<GroupStatus>],
    f: &RulesFilter,
    ctx: Ctx<'a>,
) -> Result<Listing<'a>, ParamError> {
    let mut out = Listing {
        groups: Vec::new(),
        next_token: None,
        pages: None,
    };
    let (limit, after, page_num) = match &f.paging {
        Paging::All => {
            for g in groups {
                if let Some(rules) = selected(g, f) {
                    out.groups.push(GroupJson::new(g, rules, ctx));
                }
            }
            return Ok(out);
        }
        Paging::Limit {
            limit,
            after,
            page_num,
        } => (*limit, after.as_deref(), *page_num),
    };
    if let Some(token) = after {
        return after_token(groups, f, ctx, limit, token);
    }
    let skip = (page_num.unwrap_or(1) - 1) * limit;
    let mut info = PageInfo {
        page: page_num,
        ..PageInfo::default()
    };
    for g in groups {
        let Some(rules) = selected(g, f) else {
            continue;
        };
        info.total_groups += 1;
        info.total_rules += rules.len();
        let index = info.total_groups - 1;
        if index < skip {
            continue;
        }
        if out.groups.len() < limit {
            out.groups.push(GroupJson::new(g, rules, ctx));
        } else if page_num.is_none() && out.next_token.is_none() {
            out.next_token = Some(group_token(g));
        }
    }
    info.total_pages = info.total_groups.div_ceil(limit).max(1);
    if page_num.is_some_and(|p| p > 1) && out.groups.is_empty() {
        return Err(bad(
            "page_num",
            format!(
                "page_num exceeds total amount of pages in result={}",
                info.total_pages
            ),
        ));
    }
    out.pages = Some(info);
    Ok(out)
}

/// Prometheus 3's continuation: groups from the one `token` names, `limit` of them, and
/// the token of the next one if there is one. A token naming no group is refused with
/// Prometheus' words.
fn after_token<'a>(
    groups: &'a [Arc<GroupStatus>],
    f: &RulesFilter,
    ctx: Ctx<'a>,
    limit: usize,
    token: &str,
) -> Result<Listing<'a>, ParamError> {
    let Some(start) = groups.iter().position(|g| group_token(g) == token) else {
        return Err(bad(
            "group_next_token",
            format!("invalid group_next_token '{token}'. were rule groups changed?"),
        ));
    };
    let mut out = Listing {
        groups: Vec::new(),
        next_token: None,
        pages: None,
    };
    for g in &groups[start..] {
        let Some(rules) = selected(g, f) else {
            continue;
        };
        if out.groups.len() == limit {
            out.next_token = Some(group_token(g));
            break;
        }
        out.groups.push(GroupJson::new(g, rules, ctx));
    }
    Ok(out)
}
