//! The system tests, one binary: each module drives the library, the functions or the command line against the
//! local AWS emulator (or reads the templates), as its own documentation says.

mod aws_behaviour;
mod bad_input;
mod burst;
mod cli;
mod deploys;
mod detection;
mod evidence;
mod export;
mod fresh_accounts;
mod functions;
mod iam;
mod member_plans;
mod partial_writes;
mod plan_apply;
mod plans_by_ou;
mod policies;
mod policy_limits;
mod reconcile;
mod region_deny;
mod reliability;
mod scp;
mod tamper;
mod template;
mod truths;
