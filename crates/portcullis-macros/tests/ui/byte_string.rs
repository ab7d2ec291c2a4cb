use portcullis::secured;

#[secured(b"admin")]
async fn admin() {}

fn main() {}
