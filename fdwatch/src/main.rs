mod decode;
mod probes;

fn main() {}
