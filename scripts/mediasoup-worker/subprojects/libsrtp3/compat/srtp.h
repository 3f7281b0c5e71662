// libsrtp 3 API (as used by mediasoup's worker) on top of libsrtp 2.
#ifndef DIEMCAU_SRTP3_COMPAT_H
#define DIEMCAU_SRTP3_COMPAT_H

#include <srtp2/srtp.h>

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <climits>

// Error codes that only exist in libsrtp 3 (distinct from every v2 value).
inline constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
inline constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
  return srtp_remove_stream(session, ssrc);
}

namespace diemcau_srtp_compat
{
  template<typename F>
  inline srtp_err_status_t Protect(
    F fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t trailer)
  {
    if (inLen > static_cast<size_t>(INT_MAX) - trailer || *outLen < inLen + trailer)
      return srtp_err_status_buffer_small;
    if (out != in)
      std::memmove(out, in, inLen);
    int len = static_cast<int>(inLen);
    const srtp_err_status_t err = fn(ctx, out, &len);
    if (err == srtp_err_status_ok)
      *outLen = static_cast<size_t>(len);
    return err;
  }

  template<typename F>
  inline srtp_err_status_t Unprotect(
    F fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
  {
    if (inLen > static_cast<size_t>(INT_MAX) || *outLen < inLen)
      return srtp_err_status_buffer_small;
    if (out != in)
      std::memmove(out, in, inLen);
    int len = static_cast<int>(inLen);
    const srtp_err_status_t err = fn(ctx, out, &len);
    if (err == srtp_err_status_ok)
      *outLen = static_cast<size_t>(len);
    return err;
  }
} // namespace diemcau_srtp_compat

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t /*mkiIndex*/)
{
  return diemcau_srtp_compat::Protect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_protect),
    ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t /*mkiIndex*/)
{
  return diemcau_srtp_compat::Protect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_protect_rtcp),
    ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4 /* SRTCP index */);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
  return diemcau_srtp_compat::Unprotect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_unprotect),
    ctx, srtp, srtpLen, rtp, rtpLen);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
  return diemcau_srtp_compat::Unprotect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_unprotect_rtcp),
    ctx, srtcp, srtcpLen, rtcp, rtcpLen);
}
#endif // __cplusplus

#endif // DIEMCAU_SRTP3_COMPAT_H
