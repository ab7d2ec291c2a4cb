use portcullis::secured;

#[secured("admin", "audit")]
async fn admin() {}

fn main() {}
