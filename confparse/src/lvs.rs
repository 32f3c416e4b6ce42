//! The LVS side of the configuration: `virtual_server_group`,
//! `virtual_server`, `real_server`, the health checkers and the top-level
//! `SSL` block (reference 2.9-2.11).

use serde::Serialize;

/// Every LVS object of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LvsConfig {}

/// The LVS keywords valid at the top level of keepalived.conf
/// (`virtual_server`, `virtual_server_group`, `SSL`); see `keywords` for
/// how to write a table.
pub(crate) static KEYWORDS: crate::keywords::Table<LvsConfig> = crate::keywords::Table::new(&[]);
