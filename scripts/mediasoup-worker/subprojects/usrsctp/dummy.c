static int usrsctp_shim_dummy;
