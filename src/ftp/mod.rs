//! FTP wire types only: framing, commands, arguments, replies, listings, timestamps, and their
//! client-side parsers (for the ftp backend). No sockets and no VFS calls live here.

pub mod args;
pub mod command;
pub mod decimal;
pub mod features;
pub mod line;
pub mod listing;
pub mod listing_parser;
pub mod reply;
pub mod reply_parser;
pub mod time;
