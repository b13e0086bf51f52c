//! The responder Lambda: tracing, clients once per cold start, then the runtime loop.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use responder::Responder;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = Responder::from_env().await;
    run(service_fn(|event: LambdaEvent<Value>| app.handle(event))).await
}
