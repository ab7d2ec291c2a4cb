use portcullis::secured;

#[secured(value = "admin")]
async fn admin() {}

fn main() {}
