static int openssl_shim_dummy;
