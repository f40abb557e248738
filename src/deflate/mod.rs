//! permessage-deflate (RFC 7692): placeholder, see the deflate issue.
