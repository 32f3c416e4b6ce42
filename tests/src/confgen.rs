//! Generators of large keepalived configurations for the config-test benchmarks and scale tests.
