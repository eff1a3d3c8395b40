//! A pause as the API and the UI show it (`paused` on a group or rule, and the pause
//! listing).

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::status::Pause;
use crate::web::format::GoTime;

/// A pause: what it covers, who asked, why, since and until when (`null`: until
/// resumed), and whether it holds the alerts.
pub struct PauseJson<'a>(pub &'a Pause);

impl Serialize for PauseJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let at = |ms: i64| GoTime(Some(crate::rule::system_time(ms)));
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("file", &p.target.file)?;
        m.serialize_entry("group", &p.target.group)?;
        if let Some(r) = &p.target.rule {
            m.serialize_entry("rule", r)?;
        }
        m.serialize_entry("by", &p.by)?;
        m.serialize_entry("reason", &p.reason)?;
        m.serialize_entry("note", &p.note)?;
        m.serialize_entry("since", &at(p.since_ms))?;
        match p.until_ms {
            Some(u) => m.serialize_entry("until", &at(u))?,
            None => m.serialize_entry("until", &())?,
        }
        m.serialize_entry("hold", &p.hold)?;
        m.end()
    }
}
