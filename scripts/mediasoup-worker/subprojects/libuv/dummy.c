static int libuv_shim_dummy;
