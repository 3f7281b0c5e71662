static int srtp_shim_dummy;
