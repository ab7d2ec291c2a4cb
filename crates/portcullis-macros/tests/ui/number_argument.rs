use portcullis::secured;

#[secured(1)]
async fn admin() {}

fn main() {}
