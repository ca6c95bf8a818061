//! Writing server text frames straight to the socket (RFC 6455 §5.2: FIN, opcode 1,
//! unmasked). Used for the welcome and the resume backlog, which can be large: written
//! through tungstenite they would leave its write buffer that large for the life of
//! the socket, on every socket.

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

/// The frame header for a text payload of `len` bytes.
pub fn text_header(len: usize) -> Vec<u8> {
    let mut h = vec![0x81];
    match len {
        0..=125 => h.push(len as u8),
        126..=0xFFFF => {
            h.push(126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            h.push(127);
            h.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    h
}

/// Writes each payload as one text frame and flushes; the buffer is dropped after.
pub async fn write_texts<W: AsyncWrite + Unpin>(
    io: &mut W,
    payloads: &[&[u8]],
) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(16 * 1024, io);
    for p in payloads {
        out.write_all(&text_header(p.len())).await?;
        out.write_all(p).await?;
    }
    out.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_shortest_length_form() {
        assert_eq!(text_header(5), vec![0x81, 5]);
        assert_eq!(text_header(125), vec![0x81, 125]);
        assert_eq!(text_header(126), vec![0x81, 126, 0, 126]);
        assert_eq!(
            text_header(70_000),
            vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]
        );
    }

    #[tokio::test]
    async fn a_tungstenite_client_reads_what_we_write() {
        use futures_util::StreamExt;
        let (server, client) = tokio::io::duplex(1 << 20);
        let mut server = server;
        let big = "y".repeat(70_000);
        write_texts(&mut server, &["hi".as_bytes(), big.as_bytes()])
            .await
            .unwrap();
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            client,
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await;
        assert_eq!(
            ws.next()
                .await
                .unwrap()
                .unwrap()
                .into_text()
                .unwrap()
                .as_str(),
            "hi"
        );
        assert_eq!(
            ws.next().await.unwrap().unwrap().into_text().unwrap().len(),
            70_000
        );
    }
}
