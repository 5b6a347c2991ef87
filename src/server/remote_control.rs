//! The reactor's side of `--rc`: takes a whole request from the rc server, checks it (POST,
//! credentials), runs the command with a snapshot of the server, and sends the answer (now, or
//! when a worker finishes the command's blocking part).

use serde_json::Value;

use crate::rc::commands::{self, RcContext, RcOutcome};
use crate::rc::http::{response, BadRequest};
use crate::rc::Role;
use crate::server::workers::Task;
use crate::server::Server;

impl Server {
    /// Readiness on connection `slot` of the rc server or of the metrics server.
    pub(super) fn on_rc_event(&mut self, role: Role, slot: usize) {
        let server = match role {
            Role::Rc => self.rc.as_mut(),
            Role::Metrics => self.metrics.as_mut(),
        };
        let Some(rc) = server else { return };
        let Some(pending) = rc.on_event(slot, &self.ctx.registry) else { return };
        let (status, body) = match pending.request {
            Err(BadRequest::TooLarge) => (413, serde_json::json!({ "error": "request too large", "status": 413 })),
            Err(BadRequest::Malformed(why)) => (400, serde_json::json!({ "error": why, "status": 400 })),
            Ok(req) if !rc.authorized(&req) => {
                log::info!("rc: refused {:?}: missing or wrong credentials", req.command);
                (401, commands::error_body(401, &req.command, &serde_json::Map::new(), "authentication required"))
            }
            Ok(req) if req.command == "metrics" && req.method == "GET" && rc.metrics() => {
                let transferring = self.conns.iter().flatten().filter(|c| c.in_transfer()).count();
                let ctx = RcContext {
                    shared: &self.ctx.shared,
                    stats: self.ctx.stats,
                    sessions: self.live,
                    transferring,
                    passive_ports: (self.ctx.pool.in_use(), self.ctx.pool.size()),
                };
                let body = crate::rc::metrics::render(&ctx);
                let reply = crate::rc::http::text_response("text/plain; version=0.0.4; charset=utf-8", &body);
                rc.respond(slot, pending.generation, reply, &self.ctx.registry);
                return;
            }
            Ok(req) if role == Role::Metrics => {
                let (status, why) =
                    if req.command == "metrics" { (405, "use GET") } else { (404, "only /metrics is served here") };
                (status, commands::error_body(status, &req.command, &req.params, why))
            }
            Ok(req) if req.method != "POST" => {
                (405, commands::error_body(405, &req.command, &req.params, "rc commands must be sent with POST"))
            }
            Ok(req) => {
                log::info!("rc: {}", req.command);
                let transferring = self.conns.iter().flatten().filter(|c| c.in_transfer()).count();
                let ctx = RcContext {
                    shared: &self.ctx.shared,
                    stats: self.ctx.stats,
                    sessions: self.live,
                    transferring,
                    passive_ports: (self.ctx.pool.in_use(), self.ctx.pool.size()),
                };
                match commands::run(&req.command, &req.params, &ctx) {
                    RcOutcome::Reply(status, body) => (status, body),
                    RcOutcome::Quit(body) => {
                        self.quit_requested = true;
                        (200, body)
                    }
                    RcOutcome::Work(work) => {
                        self.ctx.workers.submit(Task::Rc { slot, generation: pending.generation, work });
                        return;
                    }
                }
            }
        };
        let server = match role {
            Role::Rc => self.rc.as_mut(),
            Role::Metrics => self.metrics.as_mut(),
        };
        if let Some(rc) = server {
            let reply = crate::rc::http::response_with_realm(status, &body, rc.realm());
            rc.respond(slot, pending.generation, reply, &self.ctx.registry);
        }
    }

    /// A worker finished an rc command's blocking part.
    pub(super) fn on_rc_done(&mut self, slot: usize, generation: u64, result: Result<Value, String>) {
        let (status, body) = match result {
            Ok(body) => (200, body),
            Err(e) => (500, serde_json::json!({ "error": e, "status": 500 })),
        };
        if let Some(rc) = self.rc.as_mut() {
            rc.respond(slot, generation, response(status, &body), &self.ctx.registry);
        }
    }
}
