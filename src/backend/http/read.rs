//! How the http remote sends the GETs of a read (`net::ranged_read::RangedRead` does the rest).

use std::sync::Arc;

use super::Inner;
use crate::backend::net::ranged_read::RangeSource;
use crate::backend::net::{http, transport_error};
use crate::backend::Result;

/// The GETs of one file of a web directory.
pub(super) struct HttpGet {
    pub(super) inner: Arc<Inner>,
    pub(super) url: String,
    pub(super) vpath: String,
}

impl RangeSource for HttpGet {
    fn get(&self, range: Option<String>) -> Result<http::Response<ureq::Body>> {
        let extra: Vec<(&str, String)> = range.into_iter().map(|r| ("range", r)).collect();
        self.inner.send(&self.inner.client, "GET", &self.url, &extra).map_err(|e| transport_error(e, &self.vpath))
    }

    fn tries(&self) -> u32 {
        self.inner.opts.net.low_level_retries
    }
}
