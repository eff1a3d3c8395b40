//! The engine as a datasource: rules, replay and templates query it through
//! [`Querier`] exactly as they query Prometheus.

use crate::datasource::{BoxFuture, InstantQuery, Querier, QueryError, RangeQuery, RangeSeries};
use crate::sample::Sample;

use super::{Engine, PromqlError, Value};

fn query_error(e: PromqlError) -> QueryError {
    let error_type = match e {
        PromqlError::Parse(_) => "bad_data",
        PromqlError::Eval(_) => "execution",
    };
    QueryError::Failed {
        error_type: error_type.into(),
        error: e.to_string(),
    }
}

impl Querier for Engine {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        Box::pin(async move {
            let r = Engine::instant(self, &q.expr, q.time_ms).map_err(query_error)?;
            r.value
                .into_samples()
                .map_err(|got| QueryError::ResultType { got: got.into() })
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        Box::pin(async move {
            let r = Engine::range(self, &q.expr, q.start_ms, q.end_ms, q.step_ms)
                .map_err(query_error)?;
            match r.value {
                Value::Matrix(m) => Ok(m.into_iter().map(|s| (s.labels, s.points)).collect()),
                other => Err(QueryError::ResultType {
                    got: other.type_name().into(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::promql::EngineOptions;

    #[tokio::test]
    async fn answers_like_a_datasource() {
        let e = Engine::new(EngineOptions::default());
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        e.add_series(&l, [(0, 1.0), (60_000, 0.0)]);
        let q = InstantQuery {
            expr: "up == 0".into(),
            time_ms: 60_000,
            ..Default::default()
        };
        let got = Querier::instant(&e, &q).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels, l);
        let q = InstantQuery {
            expr: "up{".into(),
            ..Default::default()
        };
        let err = Querier::instant(&e, &q).await.unwrap_err();
        assert!(
            matches!(err, QueryError::Failed { ref error_type, .. } if error_type == "bad_data"),
            "{err}"
        );
        let r = RangeQuery {
            expr: "up".into(),
            start_ms: 0,
            end_ms: 60_000,
            step_ms: 30_000,
            ..Default::default()
        };
        let got = Querier::range(&e, &r).await.unwrap();
        assert_eq!(got[0].1, vec![(0, 1.0), (30_000, 1.0), (60_000, 0.0)]);
    }
}
