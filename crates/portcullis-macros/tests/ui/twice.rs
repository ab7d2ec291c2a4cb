use portcullis::secured;

#[secured("reports:read")]
#[secured("reports:admin")]
async fn reports() {}

fn main() {}
