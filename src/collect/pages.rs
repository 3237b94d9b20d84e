//! Following page tokens by hand. The SDK's paginators end quietly when a service answers the
//! token they sent (a truncated listing taken for a complete one) and follow a longer cycle
//! for ever; every paginated call of the collectors goes through [`Pages`] instead, which ends
//! only when the service says the listing is complete and reports a token it answered before
//! (any cycle) as an error of the call's data source: never complete data.

use std::collections::HashSet;

use crate::collect::error::CollectError;
use crate::inventory::DataSource;

/// The page tokens one paginated call was answered.
pub struct Pages {
    data_source: DataSource,
    call: String,
    seen: HashSet<String>,
}

impl Pages {
    pub fn new(data_source: DataSource, call: impl Into<String>) -> Pages {
        Pages {
            data_source,
            call: call.into(),
            seen: HashSet::new(),
        }
    }

    /// The token to ask with next, from the one the last page answered (`None` or empty, as
    /// the SDK reads it: the listing is complete).
    ///
    /// # Errors
    ///
    /// A token answered before: the listing cannot be followed to its end.
    pub fn next(&mut self, answered: Option<&str>) -> Result<Option<String>, CollectError> {
        let Some(token) = answered.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if !self.seen.insert(token.to_string()) {
            return Err(CollectError::RepeatedPageToken {
                data_source: self.data_source,
                call: self.call.clone(),
                token: token.to_string(),
            });
        }
        Ok(Some(token.to_string()))
    }

    /// For IAM's listings: the next marker of a page that says whether it is truncated.
    ///
    /// # Errors
    ///
    /// As [`Pages::next`], and a page that says it is truncated without a marker.
    pub fn next_marker(
        &mut self,
        truncated: bool,
        marker: Option<&str>,
    ) -> Result<Option<String>, CollectError> {
        match (truncated, marker.filter(|m| !m.is_empty())) {
            (false, _) => Ok(None),
            (true, None) => Err(CollectError::TruncatedWithoutMarker {
                data_source: self.data_source,
                call: self.call.clone(),
            }),
            (true, marker) => self.next(marker),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_when_complete_and_refuses_any_token_seen_before() {
        let mut p = Pages::new(DataSource::Iam, "ListUsers");
        assert_eq!(p.next(Some("a")).unwrap().as_deref(), Some("a"));
        assert_eq!(p.next(Some("b")).unwrap().as_deref(), Some("b"));
        let err = p.next(Some("a")).unwrap_err();
        assert_eq!(err.data_source(), DataSource::Iam);
        assert!(err.to_string().contains("(a)"), "{err}");
        assert_eq!(p.next(None).unwrap(), None);
        assert_eq!(
            p.next(Some("")).unwrap(),
            None,
            "the SDK's end of a listing"
        );
        assert_eq!(p.next_marker(false, Some("c")).unwrap(), None);
        assert!(
            p.next_marker(true, None).is_err(),
            "truncated without a marker"
        );
    }
}
