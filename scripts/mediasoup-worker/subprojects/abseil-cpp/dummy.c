static int absl_shim_dummy;
