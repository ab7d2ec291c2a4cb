use portcullis::secured;

#[secured(admin)]
async fn admin() {}

fn main() {}
