"""The only Streamlit code in the package: navigation, the page frame, cached edges."""
