//! FTP wire types only: framing, commands, arguments, replies, listings, timestamps. No
//! sockets and no VFS calls live here.

pub mod args;
pub mod command;
pub mod features;
pub mod line;
pub mod listing;
pub mod reply;
pub mod time;
