static int flatbuffers_shim_dummy;
